/** The scripted Anthropic Messages API server lives with the demo, which ships it; tests import it from here. */
export * from '../../tasks/demo/model-server.ts';
