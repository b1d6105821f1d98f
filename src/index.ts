// Programmatic API of the package.
export { loadConfig, type Config } from './config/config.js';
export { openStore, type Store } from './store/db.js';
export { migrate } from './store/migrate.js';
