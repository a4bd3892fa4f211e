import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { loadMe, pendingGate, session } from './session'

const routes: RouteRecordRaw[] = [
  { path: '/login', component: () => import('./views/SignIn.vue'), meta: { public: true } },
  { path: '/login/second-factor', component: () => import('./views/SecondFactor.vue'), meta: { gate: true } },
  { path: '/password', component: () => import('./views/ChangePassword.vue'), meta: { gate: true } },
  {
    path: '/',
    component: () => import('./layouts/ConsoleLayout.vue'),
    children: [
      { path: '', redirect: '/chat' },
      { path: 'chat/:id?', component: () => import('./views/Chat.vue'), meta: { watermark: true } },
      { path: 'contacts', component: () => import('./views/Contacts.vue') },
      { path: 'security', component: () => import('./views/Security.vue'), meta: { gate: true } },
      { path: 'admin', redirect: '/admin/members' },
      { path: 'admin/departments', component: () => import('./views/admin/Departments.vue'), meta: { admin: true } },
      { path: 'admin/members', component: () => import('./views/admin/Members.vue'), meta: { admin: true } },
      { path: 'admin/tags', component: () => import('./views/admin/Tags.vue'), meta: { admin: true } },
      { path: 'admin/rules', component: () => import('./views/admin/Rules.vue'), meta: { admin: true } },
      { path: 'admin/import', component: () => import('./views/admin/Import.vue'), meta: { admin: true } },
      { path: 'admin/apps', component: () => import('./views/admin/Apps.vue'), meta: { admin: true, superOnly: true } },
      { path: 'admin/corp', component: () => import('./views/admin/Corp.vue'), meta: { admin: true } },
      { path: 'admin/audit', component: () => import('./views/admin/Audit.vue'), meta: { admin: true, superOnly: true } },
      { path: 'admin/stats', component: () => import('./views/admin/Stats.vue'), meta: { admin: true, superOnly: true } },
      { path: 'admin/escalation', component: () => import('./views/admin/Escalation.vue'), meta: { admin: true } },
    ],
  },
  { path: '/:rest(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  // Links in urgent-message notices use `/#/conversations/<id>?seq=N`.
  if (to.hash.startsWith('#/conversations/')) {
    const [path, query] = to.hash.slice('#/conversations/'.length).split('?')
    return { path: `/chat/${path}`, query: Object.fromEntries(new URLSearchParams(query ?? '')) }
  }
  if (!session.loaded) await loadMe().catch(() => null)
  const me = session.me
  if (to.meta.public) return me && !pendingGate(me) ? '/' : true
  if (!me) return { path: '/login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  const gate = pendingGate(me)
  if (gate && to.path !== gate) return gate
  if (!gate && (to.path === '/password' || to.path === '/login/second-factor')) {
    return to.path === '/password' ? true : '/'
  }
  if (to.meta.admin && !me.admin) return '/'
  if (to.meta.superOnly && me.admin?.role !== 'super') return '/admin/members'
  return true
})
