export * from '../../src/otlp-receiver/index.js';
