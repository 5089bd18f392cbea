/**
 * The rate search of `npm run bench:collector`: the highest fixed offered rate a server answers
 * with less than {@link MAX_LOSS_FRACTION} loss, by doubling then bisection. Pure: the trial that
 * runs one step is passed in.
 * @module
 */

/** A step passes when less than 0.1 % of its requests go unanswered (the criterion)… */
export const MAX_LOSS_FRACTION = 0.001;

/**
 * …and its p99 latency stays under this, in µs. A rate above capacity builds a standing queue:
 * with the collector's 4 MiB socket buffer (~3,400 requests) a short step can end before that
 * queue overflows, so loss alone would pass an overload (seen: 0 % loss at p50 76 ms). 20 ms
 * admits at most ~1 % overload over a 1.5 s step.
 */
export const MAX_P99_US = 20_000;

/** What one step at a fixed rate found. */
export interface StepOutcome {
  readonly rate: number;
  readonly lossFraction: number;
  /** p99 latency from the scheduled send time, µs; absent: only loss decides. */
  readonly p99Us?: number;
}

/** How to search. */
export interface SearchOptions {
  /** First rate tried, requests per second. */
  readonly startRate: number;
  /** Never tried above this (the generator's own ceiling on this machine). */
  readonly maxRate: number;
  /** Never tried below this: a server that loses even here gets 0. */
  readonly minRate: number;
  /** Bisection stops when the failing rate is within this fraction above the passing one. */
  readonly resolution: number;
  /**
   * A failing step is run again up to this many times and passes if any run passes: one burst
   * of other work on a shared machine should not halve the result.
   */
  readonly retries: number;
}

/** Defaults: start at 2,000/s, bisect to within 10 %, run a failing step once more. */
export const SEARCH_DEFAULTS: SearchOptions = Object.freeze({
  startRate: 2_000,
  maxRate: 400_000,
  minRate: 250,
  resolution: 0.1,
  retries: 1,
});

/** The result: the highest passing rate (0 if none) and every step, in order. */
export interface SearchResult {
  readonly maxRate: number;
  /** The lowest rate that failed, if any did (the true maximum lies between). */
  readonly failedRate: number | undefined;
  readonly steps: readonly StepOutcome[];
}

/** True when a step lost less than {@link MAX_LOSS_FRACTION} and queued no more than {@link MAX_P99_US}. */
export function isPassing(step: StepOutcome): boolean {
  return step.lossFraction < MAX_LOSS_FRACTION && (step.p99Us === undefined || step.p99Us <= MAX_P99_US);
}

/**
 * Searches the highest passing rate: doubles from `startRate` until a step fails (halves when the
 * first one fails), then bisects between the last passing and the first failing rate.
 * @example const { maxRate } = await searchMaxRate((rate) => runStep(rate), SEARCH_DEFAULTS);
 */
export async function searchMaxRate(
  trial: (rate: number) => Promise<StepOutcome>,
  options: SearchOptions,
): Promise<SearchResult> {
  const steps: StepOutcome[] = [];
  const attempt = async (rate: number): Promise<boolean> => {
    for (let run = 0; run <= options.retries; run++) {
      const step = await trial(Math.round(rate));
      steps.push(step);
      if (isPassing(step)) return true;
    }
    return false;
  };
  let good = 0;
  let bad: number | undefined;
  let rate = options.startRate;
  if (await attempt(rate)) {
    good = rate;
    while (rate * 2 <= options.maxRate) {
      rate *= 2;
      if (!(await attempt(rate))) {
        bad = rate;
        break;
      }
      good = rate;
    }
  } else {
    bad = rate;
    while (rate / 2 >= options.minRate) {
      rate /= 2;
      if (await attempt(rate)) {
        good = rate;
        break;
      }
      bad = rate;
    }
  }
  if (good === 0 || bad === undefined) return { maxRate: Math.round(good), failedRate: bad, steps };
  let upper: number = bad;
  while ((upper - good) / good > options.resolution) {
    const middle: number = (good + upper) / 2;
    if (await attempt(middle)) good = middle;
    else upper = middle;
  }
  return { maxRate: Math.round(good), failedRate: Math.round(upper), steps };
}
