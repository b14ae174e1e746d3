/** kunai's version (`kunai version`, `/agent/info`). */
export const VERSION = "0.9.0";
