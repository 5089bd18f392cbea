/**
 * The agent config a demo device runs with (docs/agent.md), for both fleets: the device's
 * identity and mode, the demo collector, the demo trust files and its own state directory.
 * @module
 */
import type { DemoDevice } from './types.ts';

/** Where and how one demo agent runs. */
export interface DemoAgentYaml {
  readonly device: DemoDevice;
  /** The firmware build it runs now (the catalog's, or the one the demo updated it to). */
  readonly firmware: string;
  readonly collector: { readonly address: string; readonly port: number };
  readonly rootPath: string;
  readonly certificatePath: string;
  readonly stateDir: string;
  /** Real routes (netns) or simulated ones (loopback: the daemon's route layer is replaced). */
  readonly enforcement: boolean;
  readonly dns: readonly string[];
  readonly ownerPage: { readonly address: string; readonly port: number };
}

/** YAML single-quoted scalar: no escapes but the doubled quote (YAML 1.2 §7.3.2). */
function quote(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The agent config text of `options`. */
export function demoAgentYaml(options: DemoAgentYaml): string {
  const d = options.device;
  const software = `{name: firmware, version: ${quote(options.firmware)}}`;
  return [
    `# tattler demo: device ${d.name} (${d.vendor} ${d.model}, expected ${d.expected}: ${d.why})`,
    'device:',
    `  vendor: ${quote(d.vendor)}`,
    `  model: ${quote(d.model)}`,
    ...(d.hardwareVersion === undefined ? [] : [`  hardwareVersion: ${quote(d.hardwareVersion)}`]),
    `  software: ${software}`,
    `mode: ${d.mode}`,
    `collectors: [{address: ${quote(options.collector.address)}, port: ${String(options.collector.port)}}]`,
    `trust: {root: ${quote(options.rootPath)}, certificates: [${quote(options.certificatePath)}]}`,
    `stateDir: ${quote(options.stateDir)}`,
    `enforcement: ${String(options.enforcement)}`,
    `dns: [${options.dns.map(quote).join(', ')}]`,
    `owner: {page: {enabled: true, address: ${quote(options.ownerPage.address)}, port: ${String(options.ownerPage.port)}}}`,
    '',
  ].join('\n');
}
