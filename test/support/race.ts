import { remotePaths } from '../../src/remote/paths.ts';
import type { Remote } from '../../src/remote/remote.ts';

/**
 * `remote`, where `race()` — when it returns a function — runs that function right before a PUT of
 * `version.txt` reaches the server: after every check the committing sync makes, as if its process
 * froze there (laptop asleep) while another instance committed.
 */
export function raceBeforeSwitch(remote: Remote, race: () => (() => Promise<void>) | undefined): Remote {
  return new Proxy(remote, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return async (...args: Parameters<Remote['put']>) => {
          const run = args[0] === remotePaths.versionFile ? race() : undefined;
          if (run) await run();
          return target.put(...args);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A race that runs once. */
export function once(run: () => Promise<void>): () => (() => Promise<void>) | undefined {
  let done = false;
  return () => {
    if (done) return undefined;
    done = true;
    return run;
  };
}
