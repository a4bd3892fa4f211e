// Live chat state: the conversation list, the entries held per
// conversation, read cursors, and the WebSocket (docs/protocol.md) that keeps
// them current. Pushes are a fast path only: on (re)connect, and whenever a
// pushed entry leaves a gap, the client syncs by sequence.
import { reactive } from 'vue'
import { api } from './api/client'
import type { Conversation, ConversationDetail, Entry } from './api/contract'
import { session } from './session'

interface SyncedConversation {
  conversation: Conversation
  entries: Entry[]
  more: boolean
}

/** How many older entries a newly opened conversation shows. */
const HISTORY = 50

class ChatStore {
  conversations: Record<string, Conversation> = {}
  /** Entries held per conversation, by ascending seq, one per seq. */
  entries: Record<string, Entry[]> = {}
  /** Per conversation: every entry up to this seq is held (or was skipped as old history). */
  held: Record<string, number> = {}
  /** Per conversation: the members' read cursors. */
  cursors: Record<string, Record<string, number>> = {}
  details: Record<string, ConversationDetail> = {}
  /** Conversations whose recent history was loaded (opened once). */
  historyLoaded: Record<string, boolean> = {}
  online = false
  openConv = ''
  private socket: WebSocket | null = null
  private stopped = true
  private retry = 0
  private pingTimer: number | undefined
  private reconnectTimer: number | undefined
  private frameId = 0
  private readTimer: number | undefined

  get totalUnread(): number {
    return Object.values(this.conversations).reduce((n, c) => n + (c.unread ?? 0), 0)
  }

  get sorted(): Conversation[] {
    const lastAt = (c: Conversation) => this.entries[c.id]?.at(-1)?.at ?? 0
    return Object.values(this.conversations).sort((a, b) => lastAt(b) - lastAt(a) || b.last_seq - a.last_seq || a.id.localeCompare(b.id))
  }

  async start(): Promise<void> {
    if (!this.stopped) return
    this.stopped = false
    try {
      await this.refreshList()
    } catch {
      // The socket's sync brings the list in as well.
    }
    this.connect()
  }

  stop(): void {
    this.stopped = true
    window.clearTimeout(this.reconnectTimer)
    window.clearInterval(this.pingTimer)
    this.socket?.close(1000)
    this.socket = null
    this.online = false
    // The next member signed in on this tab starts from nothing.
    this.conversations = {}
    this.entries = {}
    this.held = {}
    this.cursors = {}
    this.details = {}
    this.historyLoaded = {}
    this.openConv = ''
  }

  async refreshList(): Promise<void> {
    const { conversations } = await api.get<{ conversations: Conversation[] }>('/conversations')
    for (const c of conversations) this.absorbSummary(c)
  }

  private absorbSummary(c: Conversation): void {
    this.conversations[c.id] = c
    // A conversation seen for the first time: its history before now is not
    // held (it is loaded when opened), so the sync starts from its last seq.
    if (this.held[c.id] === undefined) this.held[c.id] = c.last_seq
  }

  private connect(): void {
    if (this.stopped) return
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws`)
    this.socket = socket
    socket.onopen = () => {
      this.online = true
      this.retry = 0
      this.syncAll()
    }
    socket.onmessage = (event) => {
      try {
        this.onFrame(JSON.parse(String(event.data)))
      } catch {
        /* a frame we cannot read is ignored; the next sync repairs state */
      }
    }
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.online = false
      window.clearInterval(this.pingTimer)
      if (this.stopped) return
      const delay = Math.min(15_000, 500 * 2 ** this.retry++)
      this.reconnectTimer = window.setTimeout(() => this.connect(), delay)
    }
  }

  private sendFrame(frame: Record<string, unknown>): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false
    this.socket.send(JSON.stringify(frame))
    return true
  }

  /** Asks for everything after what is held, in every conversation. */
  syncAll(): void {
    this.sendFrame({ type: 'sync', id: `s${++this.frameId}`, known: { ...this.held } })
  }

  private onFrame(frame: Record<string, unknown>): void {
    switch (frame.type) {
      case 'hello': {
        const secs = Number(frame.heartbeat_secs ?? 30)
        window.clearInterval(this.pingTimer)
        this.pingTimer = window.setInterval(() => this.sendFrame({ type: 'ping' }), Math.max(5, secs) * 1000)
        break
      }
      case 'entry':
        this.onEntry(frame.entry as Entry & { conv: string })
        break
      case 'read':
        this.onRead(String(frame.conv), String(frame.userid), Number(frame.seq))
        break
      case 'sync':
        void this.onSync(frame.conversations as SyncedConversation[])
        break
      default:
        break
    }
  }

  private onEntry(entry: Entry): void {
    const conv = entry.conv
    if (!this.conversations[conv]) {
      // A conversation we did not know (someone added us): fetch the list, then catch up.
      void this.refreshList().then(() => this.syncAll())
      return
    }
    const held = this.held[conv] ?? 0
    if (entry.seq > held + 1) {
      this.sendFrame({ type: 'sync', id: `s${++this.frameId}`, known: { [conv]: held } })
      return
    }
    this.absorb(conv, [entry])
  }

  private async onSync(list: SyncedConversation[]): Promise<void> {
    for (const item of list) {
      const conv = item.conversation.id
      const known = this.held[conv] === undefined
      this.conversations[conv] = item.conversation
      if (known) this.held[conv] = Math.max(0, item.conversation.last_seq - HISTORY)
      this.absorb(conv, item.entries, false)
      if (item.more) await this.loadAfter(conv, this.held[conv] ?? 0)
    }
    if (this.openConv) this.scheduleRead()
  }

  /** Takes entries in (deduplicated by seq), applies control entries, updates the summary. */
  absorb(conv: string, incoming: Entry[], live = true): void {
    const list = (this.entries[conv] ??= [])
    const summary = this.conversations[conv]
    const me = session.me?.userid
    for (const entry of incoming) {
      if (list.some((e) => e.seq === entry.seq)) continue
      const at = list.findIndex((e) => e.seq > entry.seq)
      if (at === -1) list.push(entry)
      else list.splice(at, 0, entry)
      this.applyControl(conv, entry)
      if (summary && entry.seq > summary.last_seq) {
        summary.last_seq = entry.seq
        const fromOther = !(entry.sender.kind === 'member' && entry.sender.id === me)
        if (live && entry.type === 'message' && fromOther) summary.unread = (summary.unread ?? 0) + 1
      }
    }
    let held = this.held[conv] ?? 0
    for (const e of list) if (e.seq === held + 1) held = e.seq
    this.held[conv] = Math.max(held, this.held[conv] ?? 0)
    if (conv === this.openConv) this.scheduleRead()
  }

  private applyControl(conv: string, entry: Entry): void {
    const list = this.entries[conv] ?? []
    const target = list.find((e) => e.seq === entry.target)
    if (entry.type === 'recall' && target) {
      target.recalled_at = entry.at
      target.content = undefined
    } else if (entry.type === 'card_update' && target) {
      target.content = entry.content
    } else if (entry.type === 'update' && entry.name && this.conversations[conv]) {
      this.conversations[conv].name = entry.name
    } else if (entry.type === 'roster' && this.conversations[conv]) {
      const c = this.conversations[conv]
      c.member_count += (entry.added?.length ?? 0) - (entry.removed?.length ?? 0)
      if (this.details[conv]) void this.loadDetail(conv)
    }
  }

  private onRead(conv: string, userid: string, seq: number): void {
    const cursors = (this.cursors[conv] ??= {})
    cursors[userid] = Math.max(cursors[userid] ?? 0, seq)
    const summary = this.conversations[conv]
    if (summary && userid === session.me?.userid && seq > summary.read_seq) {
      summary.read_seq = seq
      summary.unread = this.countUnread(conv)
    }
  }

  private countUnread(conv: string): number {
    const summary = this.conversations[conv]
    if (!summary) return 0
    const me = session.me?.userid
    return (this.entries[conv] ?? []).filter(
      (e) => e.seq > summary.read_seq && e.type === 'message' && !e.recalled_at && !(e.sender.kind === 'member' && e.sender.id === me),
    ).length
  }

  /** Opens a conversation: its recent history, its members' cursors. */
  async open(conv: string): Promise<void> {
    this.openConv = conv
    if (!this.conversations[conv]) await this.refreshList()
    const summary = this.conversations[conv]
    if (!summary) return
    if (!this.historyLoaded[conv]) {
      // Entries are kept once per seq, so loading over pushed ones is harmless.
      await this.loadAfter(conv, Math.max(0, summary.last_seq - HISTORY))
      this.historyLoaded[conv] = true
    }
    await this.loadDetail(conv)
    this.scheduleRead()
  }

  async loadDetail(conv: string): Promise<void> {
    const detail = await api.get<ConversationDetail>(`/conversations/${encodeURIComponent(conv)}`)
    this.details[conv] = detail
    const cursors = (this.cursors[conv] ??= {})
    for (const m of detail.members) cursors[m.userid] = Math.max(cursors[m.userid] ?? 0, m.read_seq)
  }

  private async loadAfter(conv: string, after: number): Promise<void> {
    for (let page = 0; page < 20; page++) {
      const { entries } = await api.get<{ entries: Entry[] }>(`/conversations/${encodeURIComponent(conv)}/entries`, {
        query: { after, limit: 200 },
      })
      this.absorb(conv, entries, false)
      if (entries.length < 200) break
      after = entries[entries.length - 1]!.seq
    }
  }

  /** Moves my read cursor to the last entry of the open conversation (debounced). */
  scheduleRead(): void {
    window.clearTimeout(this.readTimer)
    this.readTimer = window.setTimeout(() => void this.markRead(), 300)
  }

  private async markRead(): Promise<void> {
    const conv = this.openConv
    const summary = this.conversations[conv]
    if (!summary || document.visibilityState === 'hidden') return
    const last = this.entries[conv]?.at(-1)?.seq ?? summary.last_seq
    if (last <= summary.read_seq) return
    if (this.hasPendingUrgent(conv, last)) return
    const { read_seq } = await api.post<{ read_seq: number }>(`/conversations/${encodeURIComponent(conv)}/read`, { seq: last })
    this.onRead(conv, session.me?.userid ?? '', read_seq)
  }

  /** Urgent messages to me that are neither read nor acknowledged keep their banner (and the cursor). */
  private hasPendingUrgent(conv: string, upTo: number): boolean {
    return this.pendingUrgent().some((e) => e.conv === conv && e.seq <= upTo)
  }

  pendingUrgent(): Entry[] {
    const me = session.me?.userid
    return Object.entries(this.entries).flatMap(([conv, list]) => {
      const readSeq = this.conversations[conv]?.read_seq ?? 0
      return list.filter(
        (e) => e.priority === 'urgent' && e.type === 'message' && !e.recalled_at && e.seq > readSeq && !(e.sender.kind === 'member' && e.sender.id === me),
      )
    })
  }

  async acknowledge(entry: Entry): Promise<void> {
    const { read_seq } = await api.post<{ read_seq: number }>(
      `/conversations/${encodeURIComponent(entry.conv)}/entries/${entry.seq}/ack`,
      {},
    )
    this.onRead(entry.conv, session.me?.userid ?? '', read_seq)
    this.scheduleRead()
  }

  async send(conv: string, msgtype: string, payload: Record<string, unknown>, priority = 'normal'): Promise<Entry> {
    const clientId = `w${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
    const entry = await api.post<Entry>(`/conversations/${encodeURIComponent(conv)}/messages`, {
      msgtype,
      [msgtype]: payload,
      priority,
      client_id: clientId,
    })
    this.absorb(conv, [entry], false)
    return entry
  }

  async recall(entry: Entry): Promise<void> {
    await api.post(`/conversations/${encodeURIComponent(entry.conv)}/entries/${entry.seq}/recall`, {})
  }

  async cardAction(entry: Entry, key: string): Promise<void> {
    const { content } = await api.post<{ content: unknown }>(
      `/conversations/${encodeURIComponent(entry.conv)}/entries/${entry.seq}/card-action`,
      { key },
    )
    entry.content = content
  }

  /** Opens (or finds) the one-to-one conversation with a member. */
  async openDirect(peer: string): Promise<string> {
    const c = await api.post<ConversationDetail>('/conversations', { kind: 'direct', peer })
    await this.refreshList()
    return c.id
  }

  async createGroup(name: string, members: string[]): Promise<string> {
    const c = await api.post<ConversationDetail>('/conversations', { kind: 'group', name, members })
    await this.refreshList()
    return c.id
  }
}

export const chat = reactive(new ChatStore()) as ChatStore
