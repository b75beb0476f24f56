// Placeholder for attaching through the kernel nbd driver (/dev/nbdN): to be built and tested in the qemu guest later.
import { ImageError } from '../errors.js';
import type { Attacher, AttachState } from './attacher.js';

/**
 * Kernel nbd attach (netlink NBD_CMD_CONNECT or nbd-client). Not implemented: this machine has neither /dev/nbd* nor
 * nbd-client; it will be written and tested in the qemu guest running Debian's kernel. attach() says so.
 */
export class KernelNbdAttacher implements Attacher {
  readonly kind = 'kernel-nbd' as const;

  async attach(uri: string): Promise<AttachState & { device: string }> {
    throw new ImageError('UNSUPPORTED', 'kernel nbd attach is not implemented yet', {
      details: { uri },
      hint: 'use the nbdfuse-loop attacher (selectAttacher picks it)',
    });
  }

  async detach(state: AttachState): Promise<void> {
    if (state.device) throw new ImageError('UNSUPPORTED', 'kernel nbd detach is not implemented yet', { details: { device: state.device } });
  }
}
