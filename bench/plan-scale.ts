/**
 * Plan scale: parse + validate + compile a 500-item plan, against yaml.parse of the same text (the floor any
 * YAML-based tool pays). Prints both, their ratio, and the heap growth. Run: node --import tsx bench/plan-scale.ts
 */
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import { compileGraph, formatGraphTree } from '../tasks/engine/graph.ts';
import { parsePlan } from '../tasks/lib/plan/load-plan.ts';

function planText(waves: number, perWave: number): string {
  const lines = [
    'milestone: {number: 7, title: "Scale test"}',
    'conflict-groups:',
    '  - {group-id: 1, reason: "shared", items: []}',
    'waves:',
  ];
  let issue = 1;
  for (let w = 1; w <= waves; w++) {
    lines.push(`  - wave: ${w}`, '    parallel: true', '    items:');
    for (let i = 0; i < perWave; i++, issue++) {
      const deps = w > 1 ? `[${issue - perWave}]` : '[]';
      lines.push(
        `      - {issue: ${issue}, title: "Item ${issue} of wave ${w}", priority: P2, conflict-group: ${i === 0 ? 1 : 'null'}, depends-on: ${deps}}`,
      );
    }
  }
  lines.push('quality-gates:', '  pre-merge: ["npm run lint"]', '  post-merge: ["npm test"]');
  return `${lines.join('\n')}\n`;
}

function time(runs: number, fn: () => void): number {
  fn(); // warm up
  const start = performance.now();
  for (let i = 0; i < runs; i++) fn();
  return (performance.now() - start) / runs;
}

const text = planText(50, 10);
const heapBefore = process.memoryUsage().heapUsed;
const ours = time(20, () => {
  const plan = parsePlan(text, 'plan.yaml');
  formatGraphTree(plan, compileGraph(plan));
});
const floor = time(20, () => parse(text));
const heapAfter = process.memoryUsage().heapUsed;
console.log(`500 items in 50 waves (${(text.length / 1024).toFixed(0)} KiB of YAML)`);
console.log(`  work-milestone parse+validate+compile+print: ${ours.toFixed(1)} ms`);
console.log(`  yaml.parse alone:                            ${floor.toFixed(1)} ms`);
console.log(
  `  ratio: ${(ours / floor).toFixed(2)}x   heap growth: ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB`,
);
