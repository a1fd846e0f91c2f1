/** A sleep that can be cut short: the read loop waits in it for its timer, or until `wake()`. */
export function createSleeper() {
  let wake: (() => void) | undefined;
  return {
    sleep(ms: number): Promise<void> {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    },
    /** Whether the loop sleeps now. */
    get sleeping() {
      return wake !== undefined;
    },
    /** Ends the sleep now, if there is one. */
    wake() {
      wake?.();
    },
  };
}
