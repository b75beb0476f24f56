// One ImageStore contract (test/helpers/image-store-suite.ts), run against both implementations: a distribution 2.8 repository and an OCI image layout.
import path from 'node:path';

import { afterAll } from 'vitest';

import { OciLayoutStore } from '../../src/registry/oci-layout-store.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { imageStoreSuite } from '../helpers/image-store-suite.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const registrySkip = missingNeeds({ commands: ['docker-registry'] });
let registry: RegistryServer | undefined;
let client: RegistryClient | undefined;
afterAll(async () => {
  await client?.close();
  await registry?.stop();
});

imageStoreSuite(
  'distribution 2.8 repository',
  async () => {
    registry = await startRegistry();
    client = new RegistryClient({ repository: { referrersSettleMs: 20 } });
    return client.repository(registry.host, 'conformance/app');
  },
  registrySkip,
);

imageStoreSuite('OCI image layout', async () => OciLayoutStore.open(path.join(makeTempDir(), 'layout'), { create: true }));
