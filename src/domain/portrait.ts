import type { Dimension } from './dimensions.ts';

/** One item of a portrait array. Devices have no id. */
export interface PortraitItem {
  id?: number;
  name: string;
  value: number;
}

/** The six arrays of one audience (new users or active users). */
export type PortraitGroup = Record<Dimension, PortraitItem[]>;

/** WeChat's answer to getweanalysisappiduserportrait (reference §1). */
export interface UserPortrait {
  ref_date: string;
  visit_uv_new: PortraitGroup;
  visit_uv: PortraitGroup;
}

/**
 * What a store computes for a window: for each dimension and value, the number of active users and of new
 * users counted under it. `key` is the stored id (0 = unknown) or, for devices, the device name (null = unknown).
 */
export interface PortraitCount {
  dimension: Dimension;
  key: number | string | null;
  active: number;
  new: number;
}
