export * from './errors';
export * from './bdf';
export * from './sysfs';
export * from './config-space';
export * from './sim-sysfs';
export * from './topology';
export type { Dom0Usage } from './dom0-usage-types';
