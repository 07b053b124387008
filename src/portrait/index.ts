export { AnswerCache } from './AnswerCache.ts';
export { PortraitService } from './PortraitService.ts';
export { buildPortrait } from './buildPortrait.ts';
