/** Export files: moving an app and its events between stores, locally or through a running server. */
export { EXPORT_VERSION, EVENT_KEYS, IMPORT_ID_WINDOW, ImportIds, exportedApp, exportedEvent, writeExport, type ExportHeader } from './exportFile.ts';
export { importApp, importEvents, type ImportAnswer, type ImportedApp } from './importInto.ts';
