import { MemoryStore } from '../src/index.js';
import { describeStoreBehaviour } from './storeSuite.js';

describeStoreBehaviour('MemoryStore', async (clock) => {
  const store = new MemoryStore({ clock });
  return { store, cleanup: () => store.close() };
});
