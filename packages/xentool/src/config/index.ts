/**
 * The xl/xm domain-config language.
 *
 * - `parseConfig(text, source)` / `parseConfigBytes(bytes, source)`: the raw settings, parsed
 *   exactly as libxlutil 4.17 parses them (`ConfigFile.get(name)`: last assignment wins).
 * - `readConfigFile(path, overrides)`: a file plus `KEY=VALUE` overrides, as `xl create`.
 * - `domainConfigFromFile(cfg)`: the typed model of the keys xentool acts on.
 * - `formatConfigText(cfg)`: the canonical text form that `config-dump` prints.
 *
 * Every failure is an `XentoolError` (`ConfigError` carries line and column) whose message is
 * one line `FILE:LINE:COL: what is wrong`; exit code 1.
 */
export { parseConfig, parseConfigBytes, ConfigFile, plainValue } from './parse-config';
export type { ConfigAtom, ConfigList, ConfigValue, ConfigSetting, PlainValue } from './parse-config';
export { ConfigError } from './config-error';
export { readConfigFile, withOverrides } from './read-config-file';
export { domainConfigFromFile, strtolBase0, TSC_MODES } from './domain-config';
export type {
  DomainConfig,
  DomainType,
  ShutdownAction,
  Passthrough,
  DeviceModelVersion,
  TscMode,
  RdmConfig,
  PciConfigEntry,
} from './domain-config';
export { formatConfigText, formatValue } from './format-config';
