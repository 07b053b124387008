export {
  LifecycleService,
  NotEmptyError,
  checkOpenids,
  type LifecycleLog,
  type DeleteAnswer,
  type PruneAnswer,
  type BackupAnswer,
  type RestoreAnswer,
} from './LifecycleService.ts';
export { BackupError, readBackup, writeBackup, BACKUP_FORMAT, BACKUP_CONTENT_TYPE, type BackupCounts, type BackupHeader } from './backupFile.ts';
