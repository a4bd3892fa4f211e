import type en from './en'

const zh: typeof en = {
  app: { title: 'qiye 企业', console: '工作台' },
  common: {
    save: '保存', cancel: '取消', create: '新建', edit: '编辑', delete: '删除', confirm: '确定',
    search: '搜索', refresh: '刷新', close: '关闭', actions: '操作', yes: '是', no: '否',
    loading: '加载中…', none: '无', copy: '复制', copied: '已复制', saved: '已保存', done: '完成',
    export: '导出', all: '全部', more: '加载更多', name: '名称', time: '时间', status: '状态',
    confirmDelete: '确定删除{name}？', back: '返回', next: '下一步', enabled: '开', disabled: '关',
    departments: '部门', members: '成员', tags: '标签', unlimited: '默认',
  },
  lang: { label: '语言' },
  nav: {
    messages: '消息', contacts: '通讯录', security: '账号安全', admin: '管理后台',
    departments: '部门管理', members: '成员管理', tags: '标签', rules: '可见范围与字段',
    import: '批量导入导出', apps: '应用管理', corp: '企业设置', audit: '操作日志',
    stats: '消息统计', escalation: '紧急消息提醒', signOut: '退出登录', menu: '菜单',
  },
  signin: {
    title: '登录', corpid: '企业 ID', login: '账号、手机号或邮箱', password: '密码',
    submit: '登录', wrong: '账号或密码错误', disabled: '该账号已停用',
    locked: '尝试次数过多，请在 {time} 后重试。', rememberHint: '本设备会记住企业 ID。',
    secondFactor: '两步验证', codeHint: '请输入身份验证器中的 6 位验证码',
    code: '验证码', useRecovery: '改用恢复码', useCode: '使用身份验证器验证码',
    recovery: '恢复码', verify: '验证', wrongCode: '验证码错误', signOutInstead: '使用其他账号登录',
  },
  password: {
    title: '修改密码', forcedHint: '您使用一次性密码登录，请先设置自己的密码。',
    old: '当前密码', new: '新密码', repeat: '确认新密码', mismatch: '两次输入的密码不一致',
    rule: '10 至 128 个字符，且不同于当前密码', changed: '密码已修改', submit: '修改密码',
  },
  security: {
    title: '账号安全', totp: '身份验证器（TOTP）', totpOn: '两步验证已开启',
    totpOff: '两步验证未开启', enroll: '去设置', enrollHint: '使用身份验证器扫描二维码（或手动输入密钥），然后输入显示的验证码。',
    secret: '密钥', confirm: '确认', recoveryTitle: '恢复码',
    recoveryHint: '请妥善保存这些恢复码。手机不在身边时，每个恢复码可使用一次。仅显示这一次。',
    regenerate: '重新生成恢复码', disable: '关闭', passwordPrompt: '请输入密码',
    required: '企业要求开启两步验证，请先完成设置。',
    devices: '登录设备管理', device: '设备', ip: 'IP', signedInAt: '登录时间', lastSeen: '最近活跃',
    current: '当前设备', signOutDevice: '退出', signOutAll: '退出所有设备',
    signOutAllConfirm: '确定在所有设备（包括本设备）上退出登录？', changePassword: '修改密码',
  },
  contacts: {
    title: '通讯录', search: '搜索姓名、账号、手机号…', empty: '暂无成员', profile: '个人信息',
    userid: '账号', position: '职务', mobile: '手机', email: '邮箱', bizMail: '企业邮箱',
    telephone: '座机', address: '地址', alias: '别名', department: '部门', message: '发消息',
    results: '搜索结果',
  },
  chat: {
    title: '消息', newGroup: '发起群聊', groupName: '群名称', pickMembers: '选择成员', empty: '暂无会话',
    pick: '选择一个会话', placeholder: "输入消息，Enter 发送，Shift+Enter 换行，{'@'} 提及成员",
    send: '发送', urgent: '紧急', recall: '撤回', recalled: '{name} 撤回了一条消息', read: '已读', unread: '未读',
    allRead: '全部已读', nUnread: '{n} 人未读', readers: '已读', notReaders: '未读',
    urgentBanner: '{name} 发来紧急消息', acknowledge: '我知道了', image: '图片', file: '文件',
    upload: '附件', added: '{who} 加入群聊', removed: '{who} 退出群聊', renamed: '群名称改为 {name}',
    offline: '正在重新连接…', app: '应用', members: '{n} 人', cardDone: '已处理', mention: '提及',
    unsupported: '[{type}]', direct: '单聊', group: '群聊', you: '你', download: '下载', failed: '发送失败',
  },
  admin: {
    scopeNote: '您管理的范围：{scope}', superAdmin: '超级管理员',
    dept: {
      title: '部门管理', add: '添加子部门', rename: '重命名', parent: '上级部门', nameEn: '英文名称',
      dragHint: '拖动部门到另一个部门上即可移动。', moved: '已移动', root: '顶级',
    },
    member: {
      title: '成员管理', add: '添加成员', userid: '账号', name: '姓名', mobile: '手机', email: '邮箱',
      position: '职务', departments: '部门', status: '状态', active: '已激活', inactive: '已禁用',
      notActivated: '未激活', left: '已退出', disable: '禁用', enable: '启用', move: '调整部门',
      resetPassword: '重置密码', oneTime: '{name} 的一次性密码：{password}',
      oneTimeHint: '请交给该成员：仅可使用一次，登录时需设置新密码。',
      filterDept: '部门', filterQ: '姓名或账号', sessions: '登录设备', signOutAll: '退出所有设备',
      gender: '性别', mainDept: '主部门',
    },
    tag: { title: '标签', add: '新建标签', name: '标签名', members: '标签成员', addMembers: '添加', removeMembers: '移除' },
    rules: {
      title: '可见范围与字段', visibility: '部门可见范围', fields: '字段权限',
      dept: '部门', visibleTo: '仅对以下可见', field: '字段', admins: '管理员', readers: '可查看者',
      add: '添加规则', usersHint: '账号，逗号分隔', deptsHint: '部门 ID，逗号分隔', tagsHint: '标签 ID，逗号分隔',
    },
    import: {
      title: '批量导入导出', kind: '类型', members: '成员', departments: '部门', mode: '方式',
      sync: '新增和更新', replace: '全量覆盖（删除文件中没有的）', dryRun: '试运行（不做修改）',
      file: '选择 CSV 或 XLSX 文件', start: '开始导入', progress: '进度', report: '导入结果', row: '行',
      outcome: '结果', error: '错误', summary: '新增 {created}，更新 {updated}，未变 {unchanged}，删除 {deleted}，失败 {failed}',
      exportMembers: '导出成员', exportDepts: '导出部门', format: '格式',
    },
    apps: {
      title: '应用管理', add: '创建应用', agentid: 'AgentId', description: '应用介绍', secret: 'Secret',
      secretOnce: 'Secret 仅显示这一次，请立即复制。', rotate: '重置 Secret', visible: '可见范围',
      callback: '接收消息', url: 'URL', token: 'Token', aesKey: 'EncodingAESKey', verify: '验证', verified: '验证通过',
      deliveries: '回调投递记录', event: '事件', attempts: '尝试次数', lastError: '最近错误',
    },
    corp: {
      title: '企业设置', name: '企业名称', plan: '版本', require2fa: '强制两步验证',
      watermark: '聊天页面显示水印', apiPerMinute: '每分钟 API 调用上限', sendsPerMinute: '每分钟发送上限',
      superOnly: '仅超级管理员可修改。',
    },
    audit: {
      title: '操作日志', actor: '操作者', action: '操作', target: '对象', outcome: '结果', ip: 'IP',
      detail: '详情', from: '开始', to: '结束', exportCsv: '导出 CSV',
    },
    stats: {
      title: '消息统计', range: '时间范围', deliveryRate: '送达率', readRate: '已读率',
      responseTime: '响应时间中位数（分钟）', sent: '发送量', kind: '类型', overTime: '趋势', noData: '该时间范围内没有应用消息',
    },
    escalation: {
      title: '紧急消息提醒', firstAfter: '首次提醒（秒后）', repeatEvery: '之后每隔（秒）',
      attempts: '最多提醒（次）', email: '邮件提醒', sms: '短信提醒',
    },
  },
  errors: {
    generic: '操作失败（{code}）', forbidden: '您没有权限执行此操作', network: '无法连接服务器',
  },
}
export default zh
