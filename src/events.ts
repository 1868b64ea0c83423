/**
 * Typed events, named `component:action:outcome` (`bridge:message:deleted`). Long-running
 * parts expose them so tests and the demo can await what happened instead of sleeping.
 * A listener that throws is reported to `onListenerError` and never breaks the emitter's loop.
 */
export class TypedEvents<M extends object> {
  private readonly listeners = new Map<keyof M, Set<(payload: never) => void>>();

  constructor(private readonly onListenerError: (error: unknown, event: string) => void = () => {}) {}

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof M>(event: K, listener: (payload: M[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  /** Resolves with the next payload of `event` that passes `filter`. */
  once<K extends keyof M>(event: K, filter: (payload: M[K]) => boolean = () => true, signal?: AbortSignal): Promise<M[K]> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        off();
        reject(signal?.reason instanceof Error ? signal.reason : new Error(`aborted waiting for ${String(event)}`));
      };
      const off = this.on(event, (payload) => {
        if (!filter(payload)) return;
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(payload);
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  emit<K extends keyof M>(event: K, payload: M[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: M[K]) => void)(payload);
      } catch (error) {
        this.onListenerError(error, String(event));
      }
    }
  }
}
