// What an NbdServer serves: a named read-only BlockDevice.
import type { BlockDevice } from '../format/block-device.js';

/** One export of an NbdServer. */
export interface NbdExport {
  /** Export name clients ask for ("" means the server's default export). */
  name: string;
  /** Free text shown by `nbdinfo` (NBD_INFO_DESCRIPTION). */
  description?: string;
  /** The device; the server reads it but does not close it. */
  device: BlockDevice;
}
