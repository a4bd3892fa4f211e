import { createApp } from 'vue'
import 'element-plus/es/components/message/style/css'
import 'element-plus/es/components/message-box/style/css'
import 'element-plus/es/components/notification/style/css'
import './style.css'
import App from './App.vue'
import { router } from './router'
import { i18n } from './i18n'
import { onSessionEnded } from './api/client'
import { forget } from './session'

onSessionEnded(() => {
  forget()
  if (router.currentRoute.value.path !== '/login') void router.push('/login')
})

document.documentElement.lang = i18n.global.locale.value
createApp(App).use(i18n).use(router).mount('#app')
