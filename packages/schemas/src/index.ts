export * from './topics';
export * from './segment';
export * from './messages';
export * from './rules';
export * from './ids';
export * from './registry';
export * from './match';
export * from './identity-fields';
export * as adminApi from './admin-api';
