// Types of the browser module the server serves as /dashboard/assets/echarts.mjs (ECharts' own prebuilt
// dist/echarts.esm.min.mjs): the same API as the echarts package.
export * from 'echarts';
