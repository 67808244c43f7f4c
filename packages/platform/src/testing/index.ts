export * from './env';
export * from './kafka';
export * from './postgres';
