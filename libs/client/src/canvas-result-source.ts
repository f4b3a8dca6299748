import type { RedisResultBackend } from '@celeriac/result-backend';
import type { ResultSource } from './async-result.js';

/** The result-source calls the canvas needs (forget, groups, chord sizes), over a started backend. */
export function canvasResultSource(
  backend: () => Promise<RedisResultBackend>,
): Required<Pick<ResultSource, 'forget' | 'getMany' | 'setChordSize' | 'saveGroup' | 'restoreGroup' | 'deleteGroup'>> {
  return {
    forget: async (id) => (await backend()).forget(id),
    getMany: async (ids) => (await backend()).getMany(ids),
    setChordSize: async (groupId, size) => (await backend()).setChordSize(groupId, size),
    saveGroup: async (groupId, tuple) => (await backend()).saveGroup(groupId, tuple),
    restoreGroup: async (groupId) => (await backend()).restoreGroup(groupId),
    deleteGroup: async (groupId) => (await backend()).deleteGroup(groupId),
  };
}
