/**
 * WeChat's access sources (`access_source_session_cnt`, `access_source_visit_uv`): the key a session counts under,
 * from the `scene` code of how the user arrived (reference: wechat-analysis-family.md, "Buckets"). Every scene not
 * listed is key 10 (other), and so is a session without any scene.
 */
export const ACCESS_SOURCE_OTHER = 10;

/** key → [English name (the reference's), scene codes]. */
const TABLE: readonly (readonly [number, string, readonly number[]])[] = [
  [1, 'history list', [1001, 1002, 1004]],
  [2, 'search', [1005, 1006, 1027, 1042, 1053, 1106, 1108, 1132]],
  [3, 'chat', [1007, 1008, 1044, 1093, 1094, 1096]],
  [4, 'scan QR code', [1011, 1025, 1047, 1105, 1124, 1150]],
  [5, 'official-account profile', [1020]],
  [6, 'chat top', [1022]],
  [7, 'desktop', [1023, 1113, 1114, 1117]],
  [8, 'mini-program profile', [1024, 1135]],
  [9, 'nearby', [1026, 1033, 1068]],
  [10, 'other', []],
  [11, 'template message', [1014, 1043, 1107, 1162]],
  [12, 'customer-service message', [1021]],
  [13, 'official-account menu', [1035, 1102, 1130]],
  [14, 'app share', [1036]],
  [15, 'payment done', [1034, 1060, 1072, 1097, 1109, 1137, 1149]],
  [16, 'long-press QR', [1012, 1048, 1050, 1125]],
  [17, 'QR from album', [1013, 1049, 1126]],
  [18, 'official-account article', [1058, 1091]],
  [19, 'wallet', [1019, 1057, 1061, 1066, 1070, 1071]],
  [20, 'card package', [1028, 1128, 1148]],
  [21, 'in-app coupon', [1029, 1062]],
  [22, 'other mini-program', [1037]],
  [23, 'back from other mini-program', [1038]],
  [24, 'store list', [1052]],
  [25, 'search shortcut', [1054]],
  [26, 'mini-program service message', [1073, 1081]],
  [27, 'official-account push', [1074, 1076, 1082, 1152]],
  [28, 'session menu', [1080, 1083, 1088]],
  [29, 'task bar recent', [1089]],
  [30, 'capsule menu', [1085, 1090, 1147]],
  [31, 'wifi', [1064, 1078]],
  [32, 'city services', [1092]],
  [33, 'WeChat ads', [1045, 1046, 1067, 1084, 1095]],
  [34, 'other apps', [1065, 1069, 1111, 1140]],
  [35, 'discover-my mini-programs', [1003, 1103]],
  [36, 'task bar mine', [1104]],
  [37, 'circles', [1138, 1163]],
  [38, 'phone top-up', [1098]],
  [39, 'H5', [1018, 1055]],
  [40, 'plugin', [1040, 1041, 1099]],
  [41, 'people use', [1118, 1145]],
  [42, 'discover page', [1112, 1141, 1142, 1143]],
  [43, 'floating window', [1131]],
  [44, 'people nearby', [1075, 1134]],
  [45, 'top stories', [1115]],
  [46, 'moments', [1009, 1110, 1154, 1155]],
  [47, 'WeCom', [1119, 1120, 1121, 1122, 1123, 1156]],
  [48, 'channels video', [1136, 1144]],
  [49, 'favourites', [1010]],
  [50, 'red packet', [1100]],
  [51, 'game center', [1079, 1127]],
  [52, 'shake', [1039, 1077]],
  [53, 'shopping-guide message', [1157]],
  [54, 'object recognition', [1153]],
  [55, 'mini-program order', [1151]],
  [56, 'live', [1161]],
  [57, 'group tools', [1158, 1159, 1160]],
];

/** scene code → access-source key, for every listed scene. */
export const SCENE_SOURCES: ReadonlyMap<number, number> = new Map(TABLE.flatMap(([key, , scenes]) => scenes.map((s) => [s, key] as const)));

/** access-source key → name. */
export const ACCESS_SOURCE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(TABLE.map(([key, name]) => [key, name]));

/** The access-source key of a scene (null: no scene → 10 other). */
export function accessSource(scene: number | null | undefined): number {
  if (scene === null || scene === undefined) return ACCESS_SOURCE_OTHER;
  return SCENE_SOURCES.get(scene) ?? ACCESS_SOURCE_OTHER;
}
