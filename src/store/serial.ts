/** Runs async tasks one at a time, in call order. A failed task does not block the ones after it. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Waits for the tasks queued before, then keeps every later task waiting until the returned `release` is called:
   * for work that must hold several lines at once (take them always in the same order).
   */
  async hold(): Promise<() => void> {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    await new Promise<void>((acquired) => {
      void this.run(() => {
        acquired();
        return held;
      });
    });
    return release;
  }
}
