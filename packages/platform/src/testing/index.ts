export * from './env';
export * from './kafka';
