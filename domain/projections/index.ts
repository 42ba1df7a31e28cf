export * from './usage.js';
export * from './balance.js';
export * from './finance.js';
export * from './account.js';
