/**
 * Imported first by the reliability test files: the faults the suite injects make the handlers log an ERROR for
 * every 500 they answer (thousands), and Powertools loggers read their level when their modules load. The suite
 * prints its own findings; `RELIABILITY_LOGS=1` keeps the functions' logs. `restoreLogLevel` (in afterAll) puts the
 * setting back, so test files that run later in the same worker log as usual.
 */
const previous = process.env.POWERTOOLS_LOG_LEVEL;
if (process.env.RELIABILITY_LOGS !== '1') process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

export function restoreLogLevel(): void {
  if (previous === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = previous;
}
