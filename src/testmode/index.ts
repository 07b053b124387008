/** `serve --test-mode`: the movable clock, programmable faults and the words they are written in. */
export { FaultBook, FaultRuleError, MAX_FAULT_DELAY_MS, MAX_FAULT_RULES, type Fault, type FaultCall, type FaultRule, type FaultRuleInput } from './FaultBook.ts';
export { isLoopbackHost, TestMode, type TestModeOptions } from './TestMode.ts';
export { checkInstantRange, formatInstant, parseDuration, parseInstant, TimeFormatError } from './time.ts';
