/** Export files: moving an app and its events between stores, locally or through a running server. */
export {
  EXPORT_VERSION, EVENT_KEYS, FIRST_SEEN_PER_LINE, IMPORT_ID_WINDOW, ImportIds, exportedApp, exportedEvent, exportedFirstSeen, writeExport, type ExportHeader,
  type FirstSeenLine,
} from './exportFile.ts';
export { importApp, importEvents, importFirstSeen, type ImportAnswer, type ImportedApp } from './importInto.ts';
