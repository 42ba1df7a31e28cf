/**
 * Imported first by the reliability test files: the faults the suite injects make the handlers log an ERROR for
 * every 500 they answer (thousands), and Powertools loggers read their level when their modules load. The suite
 * prints its own findings; `RELIABILITY_LOGS=1` keeps the functions' logs.
 */
if (process.env.RELIABILITY_LOGS !== '1') process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
