export { processRecord, prepareBatch, type IngestOutcome, type PreparedBatch } from './pipeline.ts';
export { STEPS, type Step, type StepContext } from './steps.ts';
export type { Rejection } from './rejection.ts';
export { IngestService, type IngestReport, type IngestSource } from './IngestService.ts';
export * from './enrich/index.ts';
export { validateStoredEvent, type StoredOutcome } from './validateStored.ts';
