// Each request's logger, made when the request first logs. Fastify gives every request a pino child bound to its
// id, and pino builds a child by serializing those bindings (about 1.5 % of a product read's CPU in a perf profile,
// bench/README.md); at the levels a server runs at, most requests log nothing. What is logged, and how, is the
// child's own: the deferred logger hands every call at an enabled level to the child it then makes.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

class DeferredChild implements FastifyBaseLogger {
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  #made: FastifyBaseLogger | null = null;

  constructor(parent: Logger, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #child(): FastifyBaseLogger {
    this.#made ??= this.#parent.child(this.#bindings);
    return this.#made;
  }

  /** A call at a level the parent (whose level an unmade child has) leaves out makes no child. */
  #log(level: Level, args: unknown[]): void {
    const logger = this.#made ?? (this.#parent.isLevelEnabled(level) ? this.#child() : null);
    (logger?.[level] as ((...args: unknown[]) => void) | undefined)?.apply(logger, args);
  }

  get level(): string {
    return (this.#made ?? this.#parent).level;
  }

  set level(level: string) {
    this.#child().level = level;
  }

  fatal(...args: unknown[]): void {
    this.#log('fatal', args);
  }

  error(...args: unknown[]): void {
    this.#log('error', args);
  }

  warn(...args: unknown[]): void {
    this.#log('warn', args);
  }

  info(...args: unknown[]): void {
    this.#log('info', args);
  }

  debug(...args: unknown[]): void {
    this.#log('debug', args);
  }

  trace(...args: unknown[]): void {
    this.#log('trace', args);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#child().child(bindings, options);
  }
}

/**
 * Fastify's `childLoggerFactory`: a deferred child, unless the route asks for a level or serializers of its own.
 * The app's logger is the pino one Fastify made from its `logger` options.
 */
export function deferredRequestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  if (options.level !== undefined || options.serializers !== undefined) return logger.child(bindings, options);
  return new DeferredChild(logger as Logger, bindings);
}
