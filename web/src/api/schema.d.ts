export type components = { schemas: Record<string, any> }
