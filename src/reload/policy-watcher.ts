/**
 * Watches the policy file for changes. It watches the file's **directory**, not the file: Kubernetes
 * updates a mounted ConfigMap by swapping the `..data` symlink to a new timestamped directory, and
 * editors save by writing a new file and renaming it over the old one — in both cases the inode the
 * file watch was attached to is gone. Every event in the directory triggers a (debounced) check; the
 * caller compares content hashes, so events that change nothing cost one read. A slow periodic check
 * backs up platforms whose directory watches miss events.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface PolicyWatcherOptions {
  /** Quiet time after the last event before checking (ms). Default 25: editors write in bursts. */
  debounceMs?: number;
  /** Safety-net check period (ms). Default 5 000. */
  pollMs?: number;
}

export class PolicyWatcher {
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly onChange: () => void,
    private readonly options: PolicyWatcherOptions = {},
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  start(): void {
    const dir = path.dirname(path.resolve(this.file));
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.schedule());
      this.watcher.on('error', (err) => this.onError(err));
    } catch (err) {
      this.onError(err as Error);
    }
    this.poll = setInterval(() => this.onChange(), this.options.pollMs ?? 5000);
    this.poll.unref();
  }

  private schedule(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.onChange(), this.options.debounceMs ?? 25);
    this.debounce.unref();
  }

  stop(): void {
    clearTimeout(this.debounce);
    clearInterval(this.poll);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
