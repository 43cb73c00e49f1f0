/**
 * @xentool/libxc-bindings: typed bindings to libxenctrl.so.4.17 through koffi.
 *
 * Nothing loads at import time: koffi and libxenctrl are loaded by the first `openXc()`.
 * No koffi type crosses this boundary; results are plain objects, failures are coded errors.
 */
export { openXc, hostUnavailableFromErrno, createDomainStruct, XcInterface, E820MAX } from './xc-interface';
export type { OpenXcOptions, XenVersion, CreateDomainConfig, BindPtIrq, E820Entry } from './xc-interface';
export type { DomainInfo, PhysInfo, PhysCapabilities } from './decode';
export { decodeDomainInfo, decodePhysinfo, uuidFromBytes } from './decode';
export type { XcLogMessage } from './logger';
export { formatLogLine } from './logger';
export { encodeSbdf, decodeSbdf, parseBdf, formatBdf } from './sbdf';
export type { PciAddress } from './sbdf';
export { framesForRange } from './validate';
export type { FrameRange } from './validate';
export { describeLayouts, LIBXC_SONAME } from './native';
export { readElfSoname } from './elf-soname';
export { errnoName } from './errno';
export * from './constants';
export {
  LibxcError,
  XcError,
  HostUnavailableError,
  LibraryLoadError,
  XcArgumentError,
  XcDummyHandleError,
  XcClosedError,
} from './errors';
export {
  DomImage,
  buildPvImage,
  evtchnAllocUnbound,
  setMemmapLimit,
  setTscInfo,
  cpuidApplyPolicy,
  SIF_VIRT_P2M_4TOOLS,
  XC_DOM_DECOMPRESS_MAX,
  buildHvmImage,
  hvmParamSet,
  hvmParamGet,
  setPagingMempoolSize,
  HVM_PARAM,
  HVM_BELOW_4G_MMIO_LENGTH,
  VGA_HOLE_PAGES,
} from './dom-image';
export type { DomImageInfo, DomImageFields, PvBuildRequest, PvBuildResult, HvmBuildRequest, HvmBuildResult } from './dom-image';
export { describeXenguestLayouts, LIBXENGUEST_SONAME } from './native-xenguest';
