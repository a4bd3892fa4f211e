import type { Department } from './api/contract'

export interface DeptNode {
  id: number
  label: string
  children: DeptNode[]
  dept: Department
}

/** Builds the department tree from a flat list in tree order (the server's order is kept). */
export function buildTree(departments: Department[]): DeptNode[] {
  const nodes = new Map<number, DeptNode>()
  for (const d of departments) nodes.set(d.id, { id: d.id, label: d.name, children: [], dept: d })
  const roots: DeptNode[] = []
  for (const d of departments) {
    const node = nodes.get(d.id)!
    const parent = d.parentid ? nodes.get(d.parentid) : undefined
    if (parent) parent.children.push(node)
    else roots.push(node)
  }
  return roots
}

export function parseIds(text: string): number[] {
  return text.split(/[,，\s]+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0)
}

export function parseNames(text: string): string[] {
  return text.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean)
}
