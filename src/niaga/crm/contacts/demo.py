"""Demo contacts and companies for "Toko Maju Jaya": thirty customers around Yogyakarta and a few other cities.

Everything goes through the contact and company services, so every value is sealed under its person's key and
indexed for search exactly as staff-entered data is. About a third belong to the demo agent (Budi Santoso),
so signing in as the agent shows record-level visibility at work; the others belong to the owner. The
companies, and the owner's hotel and catering contacts, are shared with the agent's team.
The emails use the reserved `.example` domain and the phone numbers are made up.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.crm.contacts import companies, service
from niaga.identity.models import Team, TeamMember, User
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal

# name, industry, NPWP, street, city, province, postal code
DEMO_COMPANIES = [
    ("CV Kopi Nusantara Jaya", "Kafe dan roastery", "01.312.166.0-091.000", "Jl. Prawirotaman No. 21", "Yogyakarta",
     "DI Yogyakarta", "55153"),
    ("PT Sumber Rejeki Abadi", "Distributor sembako", "02.481.357.8-542.000", "Jl. Magelang Km 7", "Sleman",
     "DI Yogyakarta", "55285"),
    ("Hotel Griya Malioboro", "Perhotelan", "03.198.765.4-542.000", "Jl. Dagen No. 5", "Yogyakarta",
     "DI Yogyakarta", "55271"),
    ("UD Batik Sekar Arum", "Kerajinan batik", "07.654.321.4-542.000", "Jl. Imogiri Barat No. 88", "Bantul",
     "DI Yogyakarta", "55187"),
    ("PT Katering Sehat Sentosa", "Katering", "09.123.456.7-542.000", "Jl. Kaliurang Km 9", "Sleman",
     "DI Yogyakarta", "55581"),
]

# name, email, phone, company index or None, position, city, birth date, gender, tags, card, agent's?
DEMO_CONTACTS = [
    ("Siti Aminah", "siti.aminah@contoh.example", "0812-2701-4455", 0, "Pemilik", "Yogyakarta", "1986-04-17",
     "female", ["vip", "grosir"], "MJ-0001", True),
    ("Agus Salim", "agus.salim@contoh.example", "0813-2900-1187", 1, "Manajer pembelian", "Sleman", "1979-11-02",
     "male", ["grosir"], None, True),
    ("Dewi Kartika Sari", "dewi.kartika@contoh.example", "0856-4300-2211", 2, "Kepala dapur", "Yogyakarta",
     "1990-06-30", "female", ["hotel"], "MJ-0002", False),
    ("Bambang Wijayanto", "bambang.w@contoh.example", "0811-2655-0192", 1, "Direktur", "Sleman", "1972-01-15",
     "male", ["vip"], None, False),
    ("Rini Handayani", "rini.handayani@contoh.example", "0878-3911-4020", 3, "Pemilik", "Bantul", "1984-09-09",
     "female", ["reseller"], "MJ-0003", True),
    ("Yusuf Maulana", "yusuf.maulana@contoh.example", "0812-1550-7734", None, None, "Yogyakarta", "1995-03-21",
     "male", ["eceran"], "MJ-0004", True),
    ("Ni Made Ayu Lestari", "ayu.lestari@contoh.example", "0819-3602-5510", None, "Pemilik warung", "Denpasar",
     "1991-12-24", "female", ["reseller", "luar-kota"], None, False),
    ("Andi Pratama", "andi.pratama@contoh.example", "0822-4100-3388", 4, "Staf pengadaan", "Sleman", "1993-07-08",
     "male", ["katering"], None, True),
    ("Fitri Rahmawati", "fitri.rahma@contoh.example", "0857-2800-6612", None, None, "Klaten", "1998-02-14",
     "female", ["eceran"], "MJ-0005", False),
    ("Hendra Gunawan", "hendra.gunawan@contoh.example", "0813-9120-4477", None, "Pemilik toko", "Surabaya",
     "1981-05-05", "male", ["grosir", "luar-kota"], None, False),
    ("Lestari Wulandari", "lestari.w@contoh.example", "0812-6611-9023", 2, "Manajer F&B", "Yogyakarta",
     "1988-10-19", "female", ["hotel", "vip"], None, False),
    ("Putu Eka Saputra", "eka.saputra@contoh.example", "0838-1772-0045", None, None, "Gianyar", "1996-08-17",
     "male", ["luar-kota"], None, True),
    ("Rahmat Hidayat", "rahmat.hidayat@contoh.example", "0821-3344-1290", 0, "Barista kepala", "Yogyakarta",
     "1994-01-27", "male", ["kafe"], "MJ-0006", True),
    ("Sri Mulyani", "sri.mulyani@contoh.example", "0815-7801-2234", None, "Ibu rumah tangga", "Magelang",
     "1975-04-11", "female", ["eceran"], "MJ-0007", False),
    ("Wahyu Nugroho", "wahyu.nugroho@contoh.example", "0852-2990-6650", 1, "Kepala gudang", "Sleman",
     "1983-12-03", "male", ["grosir"], None, False),
    ("Maria Ulfa", "maria.ulfa@contoh.example", "0813-4455-8891", None, None, "Makassar", "1992-09-29",
     "female", ["luar-kota", "reseller"], None, False),
    ("Teguh Santoso", "teguh.santoso@contoh.example", "0812-8890-1122", 4, "Kepala dapur", "Sleman", "1980-03-18",
     "male", ["katering", "vip"], None, True),
    ("Nur Aisyah", "nur.aisyah@contoh.example", "0896-1234-5567", None, "Mahasiswi", "Yogyakarta", "2003-05-22",
     "female", ["eceran"], "MJ-0008", False),
    ("Bayu Setiawan", "bayu.setiawan@contoh.example", "0817-5521-0098", None, "Pemilik kedai", "Bandung",
     "1989-11-30", "male", ["kafe", "luar-kota"], None, False),
    ("Intan Permatasari", "intan.permata@contoh.example", "0858-6677-3310", 3, "Desainer", "Bantul", "1997-07-07",
     "female", ["reseller"], None, True),
    ("Joko Susilo", "joko.susilo@contoh.example", "0812-3030-4040", None, "Pedagang pasar", "Yogyakarta",
     "1970-02-09", "male", ["grosir"], "MJ-0009", False),
    ("Kartini Susanti", "kartini.s@contoh.example", "0813-1212-3434", None, None, "Semarang", "1987-04-21",
     "female", ["luar-kota"], None, False),
    ("Eko Prasetyo", "eko.prasetyo@contoh.example", "0822-7788-9900", 2, "Bagian pembelian", "Yogyakarta",
     "1985-08-12", "male", ["hotel"], None, True),
    ("Wulan Sari", "wulan.sari@contoh.example", "0857-4411-2233", None, "Pemilik katering rumahan", "Kulon Progo",
     "1990-01-01", "female", ["katering"], "MJ-0010", False),
    ("Dimas Aditya", "dimas.aditya@contoh.example", "0819-8877-6655", None, None, "Jakarta Selatan", "1994-10-10",
     "male", ["luar-kota", "vip"], None, False),
    ("Ratna Dewi", "ratna.dewi@contoh.example", "0812-5656-7878", 0, "Kasir", "Yogyakarta", "1999-12-12",
     "female", ["kafe"], None, True),
    ("Slamet Riyadi", "slamet.riyadi@contoh.example", "0813-6543-2109", None, "Petani kopi", "Temanggung",
     "1968-06-06", "male", ["pemasok"], None, False),
    ("Anisa Rahma", "anisa.rahma@contoh.example", "0878-9090-1212", None, None, "Sleman", "2001-03-03", "female",
     ["eceran"], "MJ-0011", True),
    ("Gede Wirawan", "gede.wirawan@contoh.example", "0361-224-466", None, "Pemilik toko oleh-oleh", "Denpasar",
     "1982-02-28", "male", ["grosir", "luar-kota"], None, False),
    ("Yohana Simanjuntak", "yohana.s@contoh.example", "0812-6060-7070", None, "Pengelola asrama", "Medan",
     "1986-09-01", "female", ["luar-kota"], None, False),
]
NOTES = {
    "Siti Aminah": "Pesan biji kopi tiap awal bulan. Minta faktur pajak.",
    "Dewi Kartika Sari": "Menghubungi lewat WhatsApp, bukan telepon.",
    "Teguh Santoso": "Pesanan besar menjelang Lebaran; konfirmasi H-14.",
}


def _agent(session: Session, owner: Principal) -> Principal | None:
    user = session.scalar(select(User).where(User.tenant_id == owner.tenant_id, User.role == Role.AGENT.value,
                                             User.status == "active").order_by(User.created_at))
    if user is None:
        return None
    return Principal(tenant_id=user.tenant_id, user_id=user.id, subject_id=user.subject_id, role=Role.AGENT,
                     permissions=ROLE_PERMISSIONS[Role.AGENT], via="session")


def _sales_team(session: Session, owner: Principal, agent: Principal) -> Team:
    """The demo's sales team, with the agent in it: the companies are shared with it."""
    team = Team(tenant_id=owner.tenant_id, name="Tim Penjualan Jogja")
    session.add(team)
    session.flush()
    session.add(TeamMember(tenant_id=owner.tenant_id, team_id=team.id, user_id=agent.user_id))
    session.flush()
    return team


def seed(session: Session, settings: Settings, owner: Principal) -> None:
    """Add the demo companies and contacts to the demo business."""
    agent = _agent(session, owner) or owner
    team = _sales_team(session, owner, agent)
    made = []
    for name, industry, npwp, street, city, province, postal in DEMO_COMPANIES:
        made.append(companies.create_company(session, owner, {
            "name": name, "industry": industry, "npwp": npwp, "team_id": team.id,
            "address": {"street": street, "city": city, "province": province, "postal_code": postal}}))
    for i, (name, email, phone, company, position, city, born, gender, tags, card, agents) in enumerate(DEMO_CONTACTS):
        data = {
            "full_name": name, "emails": [email], "phones": [phone], "position": position, "birth_date": born,
            "gender": gender, "tags": tags, "loyalty_card_number": card, "notes": NOTES.get(name),
            "company_id": made[company].id if company is not None else None,
            "addresses": {"shipping": {"street": f"Jl. Contoh No. {i + 1}", "city": city}},
        }
        if not agents and company is not None:
            data["team_id"] = team.id
        service.create_contact(session, agent if agents else owner, data)
    session.flush()
