// Prints vitest's counts as "N passed, N failed[, N skipped]" and fails when any test was skipped
// (a skipped check is a defect here) or when no test ran at all.
import { readFileSync } from "node:fs";

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, "utf8"));
} catch {
  console.log("0 passed, 1 failed");
  console.error(`No vitest report at ${file}: the test run did not finish.`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const suitesFailed = report.numFailedTestSuites ?? 0;
console.log(`${passed} passed, ${failed + (failed === 0 && suitesFailed > 0 ? suitesFailed : 0)} failed${skipped ? `, ${skipped} skipped` : ""}`);
if (skipped > 0) console.error("Skipped tests are not allowed: every check must run.");
process.exit(failed > 0 || suitesFailed > 0 || skipped > 0 || passed === 0 ? 1 : 0);
