export { PolicyWatcher, type PolicyWatcherOptions } from './policy-watcher.js';
