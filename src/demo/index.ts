/** Synthetic, realistic visits for `datacube demo`. */
export { type DemoOptions, DEFAULT_DEMO_SEED, generateDemoEvents } from './generateDemoEvents.ts';
export { DEMO_PROVINCES, type DemoCity, type DemoProvince } from './regions.ts';
export { type Rng, mulberry32 } from './prng.ts';
