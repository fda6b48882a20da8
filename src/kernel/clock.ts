// Time as a dependency, so tests can move it.
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();

/** The clock's epoch milliseconds; the system clock's without a Date each time, as the edge asks several per request. */
export const millisecondsOf = (clock: Clock): (() => number) =>
  clock === systemClock ? Date.now : () => clock().getTime();
