/**
 * `npm run bench [-- --quick]`. The functions log at INFO through Powertools, whose loggers read their level when
 * their modules load: quiet them first, so stdout carries the table and nothing else, then load the bench.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
await import('./main.js');
