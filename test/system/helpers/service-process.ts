/** The product's ServiceProcess (system/service-process.ts): a component as its own process. */
export * from '../../../system/service-process.js';
