import type { Logger } from '@celeriac/logger';
import type { ConfigService } from '../config-service.js';

/** What stepping a rollout's record needs from the controller that owns the records. */
export interface RolloutStepContext {
  service: ConfigService;
  logger: Logger;
  /** Recomputes what the active rollout serves after its record changed (wakes the long-polls it releases). */
  reindex(): void;
  /** Saves every record (does nothing on a replica that does not drive rollouts). */
  save(): void;
}
