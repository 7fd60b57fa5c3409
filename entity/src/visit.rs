//! A visit (走访): a cadre hears a household or enterprise, often offline.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How the matter reached the cadre.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 入户走访: door to door.
    #[sea_orm(string_value = "door_to_door")]
    DoorToDoor,
    /// 值班坐访: sit-in at the village office on a duty day.
    #[sea_orm(string_value = "duty_sit_in")]
    DutySitIn,
    /// 座谈 / 恳谈: forum or meeting.
    #[sea_orm(string_value = "forum")]
    Forum,
    /// 专线电话: hotline.
    #[sea_orm(string_value = "hotline")]
    Hotline,
    /// 书记信箱: the secretary's mailbox.
    #[sea_orm(string_value = "mailbox")]
    Mailbox,
    /// 走访企业: enterprise visit.
    #[sea_orm(string_value = "enterprise_visit")]
    EnterpriseVisit,
}

/// A row of `visits`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "visits")]
pub struct Model {
    /// The phone's UUID: the visit's only identity.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// County.
    pub county_id: Uuid,
    /// Town.
    pub town_id: Uuid,
    /// Village.
    pub village_id: Uuid,
    /// The household visited.
    pub household_id: Option<Uuid>,
    /// The enterprise visited.
    pub enterprise_id: Option<Uuid>,
    /// The cadre who visited.
    pub cadre_id: Uuid,
    /// Channel.
    pub channel: Channel,
    /// When, as the device says.
    pub visited_at: DateTimeUtc,
    /// When the server received it.
    pub received_at: DateTimeUtc,
    /// The six questions' answers (JSON).
    pub answers: Option<Json>,
    /// The evaluation of cadres, 1–5 (from the answers, for aggregation).
    pub cadre_rating: Option<i16>,
    /// The visit diary (入户日记).
    pub diary_note: Option<String>,
    /// Whether the service card (民情服务卡) was handed over.
    pub service_card_given: bool,
    /// WGS-84 latitude.
    pub latitude: Option<f64>,
    /// WGS-84 longitude.
    pub longitude: Option<f64>,
    /// The device that sent it (sync).
    pub device_id: Option<String>,
    /// For a duty-day sit-in (值班坐访): the village's duty of that local date, if rostered.
    pub duty_id: Option<Uuid>,
    /// Sync: the commit-ordered change sequence of the last write (0 until committed).
    pub change_seq: i64,
    /// Sync: the change sequence of the write that created the row.
    pub created_seq: i64,
    /// Sync: the device that created the row through a push.
    pub origin_device: Option<String>,
}

/// Relations of `visits`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
