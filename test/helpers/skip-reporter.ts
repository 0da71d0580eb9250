/**
 * Says in the run's summary how many tests were skipped and why. A skip is allowed only for a
 * missing system program or an environment that cannot run the test, declared through
 * `needs()`/`skip()` in `system.ts` (the suite's name carries the reason) or `skipNow()` in a test
 * (its skip note does); any other skipped or todo test fails the run, so nothing skips silently.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { SKIP_MARK } from './system.js';

export default class SkipReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const reasons = new Map<string, number>();
    const silent: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const result = t.result();
        if (result.state !== 'skipped') continue;
        const reason = reasonOf(t.fullName) ?? reasonOf(result.note ?? '');
        if (reason) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        else silent.push(`${m.moduleId}: ${t.fullName}`);
      }
    }
    const total = [...reasons.values()].reduce((a, b) => a + b, 0);
    if (total > 0) {
      process.stdout.write(`\n${total} tests skipped because this machine lacks what they need:\n`);
      for (const [reason, n] of reasons) process.stdout.write(`  ${n} ${n === 1 ? 'test' : 'tests'}: ${reason}\n`);
    }
    if (silent.length > 0) {
      process.stdout.write(`\n${silent.length} tests skipped without a declared reason (use needs()/skip()/skipNow() in test/helpers/system.ts):\n${silent.map((s) => `  ${s}`).join('\n')}\n`);
      process.exitCode = 1;
    }
  }
}

function reasonOf(fullName: string): string | undefined {
  const i = fullName.indexOf(SKIP_MARK);
  if (i < 0) return undefined;
  const end = fullName.indexOf(']', i);
  return fullName.slice(i + SKIP_MARK.length, end < 0 ? undefined : end);
}
