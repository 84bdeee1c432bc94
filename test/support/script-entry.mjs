// `node test/support/script-entry.mjs <script> args…`: what `scripts/<script>.mts args…` does, from the fresh bundle
// without tsx, so that a test's CLI start costs what the bin's costs; the sources through tsx when dist/ is not fresh
// (as the bin does). The scripts themselves are started through tsx by cli.test.ts, cli-everyday.test.ts,
// pipes.test.ts and board-tty.test.ts.
import { loadCli } from '../../bin/bundle.mjs';

const [script, ...args] = process.argv.slice(2);
const cli = await loadCli();
process.exit(await cli.main(script, args));
