/**
 * What the device's owner sees: {@link ownerStatusOf} turns the agent's settings and the core's
 * state into the one {@link OwnerStatus} every owner channel renders. Pure: time arrives as an argument.
 * @module
 */
import type { OwnerStatus } from '../owner/types.ts';
import type { AgentSettings } from './config.ts';
import type { AgentState } from './core.ts';

/** The clock readings the view needs: the override's end is on the monotonic clock. */
export interface OwnerViewClock {
  /** Wall clock, epoch ms: only for turning an override's remaining time into a date. */
  readonly wallMs: number;
  readonly monotonicMs: number;
  /** When the current status began (the shell's status.json `sinceIso`), if known. */
  readonly statusSinceIso?: string;
}

function isoOfSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/**
 * The owner's view of the agent: status, device, the FAIL in force with its facts (CVSS, KEV,
 * fixed versions, update hosts) and the override. A FAIL's score and KEV flag are the worst of
 * its record or matched bucket entries, so each advisory shows them.
 * @example const view = ownerStatusOf(settings, agent.state(), { wallMs: Date.now(), monotonicMs: performance.now() });
 */
export function ownerStatusOf(
  settings: AgentSettings,
  state: Pick<AgentState, 'status' | 'fail' | 'override'>,
  clock: OwnerViewClock,
): OwnerStatus {
  const fail = state.status === 'clear' || state.status === 'off' ? undefined : state.fail;
  const cvss = fail?.cvss10 === undefined ? undefined : fail.cvss10 / 10;
  const exploited = fail?.kev ?? false;
  // The FAIL's own start is the signed time floor (or trusted wall time) at acceptance; the
  // status's start is the shell's clock: prefer the FAIL's when the status is about it.
  const since =
    fail?.sinceSeconds !== undefined && state.status !== 'overridden'
      ? isoOfSeconds(fail.sinceSeconds)
      : clock.statusSinceIso;
  const override = state.status === 'overridden' ? state.override : undefined;
  return {
    status: state.status,
    ...(since === undefined ? {} : { since }),
    device: {
      vendor: settings.device.vendor,
      model: settings.device.model,
      softwareVersion: settings.device.software.version,
    },
    advisories: (fail?.advisories ?? []).map((id) => ({
      id,
      ...(cvss === undefined ? {} : { cvss }),
      exploited,
    })),
    fixedVersions: fail?.fixedVersions ?? [],
    updateHosts: fail?.remediationHosts ?? [],
    ...(override === undefined
      ? {}
      : {
          override: {
            reason: override.reason,
            ...(override.endsAtMs === undefined
              ? {}
              : {
                  until: new Date(
                    clock.wallMs + Math.max(0, override.endsAtMs - clock.monotonicMs),
                  ).toISOString(),
                }),
          },
        }),
    mode: settings.mode,
  };
}
