/**
 * `@syncjob/core/store`: what a store author needs beyond the `SyncStore` contract (which the root
 * exports, with the lifecycle's types): the job lifecycle as pure functions a store applies
 * atomically, and the helpers every store shares (limits, progress patches, log entries). An app
 * never imports this.
 */
export {
  applyJobChange,
  cancelTransition,
  claimTransition,
  expireTransition,
  expireWith,
  finishChange,
  handBackTransition,
  isLeaseExpired,
  newJob,
  releaseTransition,
} from '../job/jobLifecycle';
export {
  applyProgressPatch,
  checkCreateJobInput,
  checkLeaseMs,
  checkTakeQuota,
  clampLimit,
  LIMITS,
  newLogEntries,
  quotaTakeFits,
} from './syncStore';
